"""Forms of the privacy page: look a person up, and confirm an erasure by typing the address again."""

from django import forms


class PersonForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Type the person's email address to look them up.",
            "invalid": "“%(value)s” is not an email address: type the whole address, like name@example.com.",
        },
    )


class EraseForm(forms.Form):
    email = forms.EmailField(widget=forms.HiddenInput)
    confirm = forms.CharField(label="Type the address again to confirm", max_length=254)
    reason = forms.CharField(label="Reason or request reference", max_length=300, required=False)

    def clean(self):
        data = super().clean()
        email, confirm = data.get("email", ""), data.get("confirm", "")
        if email and confirm.strip().lower() != email.strip().lower():
            raise forms.ValidationError("The address typed again does not match: nothing was erased.")
        return data
