"""Local emulator of the Agentuity Sessions API (placeholder; see issue 2)."""
