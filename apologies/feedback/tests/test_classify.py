import pytest

from apologies.feedback import classify


@pytest.mark.parametrize(
    "text, kind",
    [
        ("Thanks for the honest apology, it happens!", "thanks"),
        ("Merci pour ce message, ce n'est pas grave.", "thanks"),
        ("Danke für die Entschuldigung.", "thanks"),
        ("Muchas gracias por avisar.", "thanks"),
        ("Please never email me again.", "never_again"),
        ("Merci, mais ne m'envoyez plus rien, je veux me désinscrire.", "never_again"),
        ("Bitte keine E-Mails mehr, ich will mich abmelden.", "never_again"),
        ("Por favor, no me envíen más correos. Quiero darme de baja.", "never_again"),
        ("This is spam and completely unacceptable.", "complaint"),
        ("C'est inacceptable.", "complaint"),
        ("Das ist unverschämt.", "complaint"),
        ("Es inaceptable.", "complaint"),
        ("How do I change which emails I get?", "question"),
        ("Pourquoi ai-je reçu 25 emails ?", "question"),
        ("Ok.", "needs_person"),
        ("Thanks, but I don't want these any more.", "needs_person"),
        ("Thanks! Why did I get 25 of them?", "question"),
    ],
)
def test_it_classifies_replies_in_four_languages(text, kind):
    assert classify.classify(subject="Re: We're sorry", text=text).kind == kind


def test_it_reads_only_what_the_person_wrote():
    text = (
        "Thank you, no harm done.\n\n-- \nJane\n\n"
        "On Fri, Nov 20, 2026 at 3:00 PM Amends <sorry@example.com> wrote:\n"
        "> If you want us to stop, unsubscribe here.\n"
    )
    assert classify.strip_quoted(text) == "Thank you, no harm done."
    assert classify.classify(subject="Re: sorry", text=text).kind == "thanks"
    french = "Merci !\n\nLe ven. 20 nov. 2026 à 15:00, Amends a écrit :\n> Désinscrivez-vous ici"
    assert classify.classify(subject="Re: désolé", text=french).kind == "thanks"


def test_it_recognises_auto_replies():
    assert classify.classify(subject="Out of office", text="I am away until Monday, thanks").kind == "auto_reply"
    assert (
        classify.classify(subject="Re: sorry", text="x", headers={"Auto-Submitted": "auto-replied"}).kind
        == "auto_reply"
    )
    assert classify.classify(subject="Abwesenheitsnotiz", text="Ich bin nicht da").kind == "auto_reply"


def test_it_shows_reply_html_without_scripts_or_remote_images():
    html = (
        '<p onclick="x()">Hi<script>alert(1)</script><img src="https://tracker.example/p.gif"></p>'
        '<a href="javascript:x">l</a>'
    )
    clean = classify.safe_html(html)
    assert "script" not in clean and "img" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "<p>Hi</p>" in clean


@pytest.mark.parametrize(
    "text, language",
    [
        ("Merci de ne plus m'écrire.", "fr"),
        ("Please don't email me again.", "en"),
        ("Bitte keine E-Mails mehr.", "de"),
        ("Por favor, no me envíen más correos.", "es"),
    ],
)
def test_it_records_the_language_of_the_reply(text, language):
    assert classify.classify(subject="Re: sorry", text=text).language == language


def test_it_reads_an_html_only_reply_with_entities_and_an_outlook_quote():
    html = (
        "<html><body><div dir='ltr'>Merci de ne plus m&#39;&eacute;crire.<div><br></div><div>Claire<br><br>"
        '<div><hr id="stopSpelling">Date: Sat, 21 Nov 2026 09:12:00 +0100<br>Subject: Toutes nos excuses<br>'
        "From: sorry@amends.localhost<br>To: claire@example.fr<br><br><div>Bonjour Claire, merci</div>"
        "</div></div></div></body></html>"
    )
    reading = classify.classify(subject="RE: Toutes nos excuses", text="", html=html)
    assert reading.kind == "never_again" and reading.language == "fr"
    assert "Bonjour" not in reading.own_words and "Subject" not in reading.own_words
