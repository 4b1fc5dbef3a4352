"""Verification of candidate samples: the format / execution / semantic funnel (APIGen), a
BFCL-style call matcher and ToolRL's reward."""
