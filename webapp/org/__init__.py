"""Organization administration (members, settings); pages arrive with a later issue."""
