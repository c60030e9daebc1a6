"""The project-management digest: blocks → sections → extractors → digest."""
