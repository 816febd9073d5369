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


@pytest.mark.parametrize(
    "quote",
    [
        # Outlook (en, fr, de, es), the header lines in the orders clients write them.
        "From: Amends <sorry@example.com>\nSent: Saturday, November 21, 2026 9:12 AM\nTo: Claire\nSubject: Sorry",
        "Date: Sat, 21 Nov 2026 09:12:00 +0100\nSubject: Toutes nos excuses\nFrom: sorry@example.com\nTo: claire",
        "De : Amends <sorry@example.com>\nEnvoyé : samedi 21 novembre 2026 09:12\nÀ : Claire\nObjet : Excuses",
        "Envoyé : samedi 21 novembre 2026 09:12\nDe : Amends\nObjet : Toutes nos excuses",
        "Von: Amends <sorry@example.com>\nGesendet: Samstag, 21. November 2026 09:12\nAn: Claire\nBetreff: Sorry",
        "Betreff: Entschuldigung\nDatum: 21.11.2026\nVon: Amends",
        "De: Amends <sorry@example.com>\nEnviado el: sábado, 21 de noviembre 2026 9:12\nPara: Claire\nAsunto: Perdón",
        "Asunto: Perdón\nFecha: 21/11/2026\nDe: Amends",
        "*From:* Amends\n*Sent:* Saturday\n*Subject:* Sorry",
        "-----Original Message-----\nHello",
        "-------- Message d'origine --------\nBonjour",
        "-----Ursprüngliche Nachricht-----\nHallo",
        "-----Mensaje original-----\nHola",
        "---------- Forwarded message ---------\nHello",
    ],
)
def test_it_cuts_a_quoted_header_block_in_any_order_and_language(quote):
    text = f"Merci de ne plus m'écrire.\nClaire\n\n{quote}\n\nBonjour Claire, désinscrivez-vous ici."
    assert classify.strip_quoted(text) == "Merci de ne plus m'écrire.\nClaire"
    # One line that only looks like a header is the person's.
    assert classify.strip_quoted(f"Subject: my account\n{text}").startswith("Subject: my account\nMerci")


@pytest.mark.parametrize(
    "quote",
    [
        '<hr id="stopSpelling">Date: Sat, 21 Nov 2026<br>Subject: Excuses<br>Bonjour Claire',
        '<div id="divRplyFwdMsg"><font><b>Envoyé :</b> samedi<br><b>Objet :</b> Excuses</font></div>Bonjour',
        '<div class="gmail_quote"><div class="gmail_attr">Le sam. 21 nov. 2026, Amends &lt;sorry@example.com&gt;'
        '<br>a écrit&nbsp;:</div><blockquote class="gmail_quote">Bonjour Claire</blockquote></div>',
        '<blockquote type="cite">Bonjour Claire, désinscrivez-vous ici</blockquote>',
    ],
)
def test_it_cuts_the_quote_an_html_reply_marks(quote):
    html = f"<html><body><div>Merci de ne plus m&#39;&eacute;crire.<br>Claire<br>{quote}</div></body></html>"
    text = classify.html_to_text(html)
    assert classify.strip_quoted(text) == "Merci de ne plus m'écrire.\nClaire"
    reading = classify.classify(subject="RE: Excuses", text="", html=html)
    assert reading.kind == "never_again" and reading.own_words == "Merci de ne plus m'écrire.\nClaire"


def test_it_keeps_bold_words_on_their_line():
    assert classify.html_to_text("<p>Please <b>never</b> email me again.</p>") == "Please never email me again."
