"""Pure, frozen values: scenarios, plans, templates, outcomes. No I/O, no asyncio."""
