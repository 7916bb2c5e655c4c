"""Host families and encoder specs (DESIGN §6)."""
