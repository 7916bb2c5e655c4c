"""The realfiles tier: whole real public files through the whole pipeline (issue 67, item 7; noxfile.py's tiers)."""
