"""Compatible faces: APIs that existing clients already speak, over the same lifecycle."""
