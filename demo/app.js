// the demo page logic (replaced by the demo implementation)
