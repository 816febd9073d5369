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
        ("Ok.", "other"),
    ],
)
def test_it_classifies_replies_in_four_languages(text, kind):
    assert classify.classify(subject="Re: We're sorry", text=text)[0] == kind


def test_it_reads_only_what_the_person_wrote():
    text = (
        "Thank you, no harm done.\n\n-- \nJane\n\n"
        "On Fri, Nov 20, 2026 at 3:00 PM Amends <sorry@example.com> wrote:\n"
        "> If you want us to stop, unsubscribe here.\n"
    )
    assert classify.strip_quoted(text) == "Thank you, no harm done."
    assert classify.classify(subject="Re: sorry", text=text)[0] == "thanks"
    french = "Merci !\n\nLe ven. 20 nov. 2026 à 15:00, Amends a écrit :\n> Désinscrivez-vous ici"
    assert classify.classify(subject="Re: désolé", text=french)[0] == "thanks"


def test_it_recognises_auto_replies():
    assert classify.classify(subject="Out of office", text="I am away until Monday, thanks")[0] == "auto_reply"
    assert (
        classify.classify(subject="Re: sorry", text="x", headers={"Auto-Submitted": "auto-replied"})[0] == "auto_reply"
    )
    assert classify.classify(subject="Abwesenheitsnotiz", text="Ich bin nicht da")[0] == "auto_reply"


def test_it_shows_reply_html_without_scripts_or_remote_images():
    html = (
        '<p onclick="x()">Hi<script>alert(1)</script><img src="https://tracker.example/p.gif"></p>'
        '<a href="javascript:x">l</a>'
    )
    clean = classify.safe_html(html)
    assert "script" not in clean and "img" not in clean and "onclick" not in clean and "javascript" not in clean
    assert "<p>Hi</p>" in clean
