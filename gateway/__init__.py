"""SCIM 2.0 gateway from Okta and Microsoft Entra ID to the Kyvos Web Portal."""
