"""Verification of candidate samples: the format / execution / semantic funnel (APIGen), a BFCL-style call matcher and ToolRL\x27s reward."""
