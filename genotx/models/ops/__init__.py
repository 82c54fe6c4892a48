"""Pure functions on tensors used by the mixers (no parameters): scans and linear attention."""
