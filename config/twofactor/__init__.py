"""Optional TOTP two-factor sign-in (django-otp) for staff, required of the roles named in TWO_FACTOR_REQUIRED_ROLES."""
