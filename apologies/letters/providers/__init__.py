"""Print-and-mail providers that send our letters (Lob first): one adapter module each, behind base.LetterProvider."""
