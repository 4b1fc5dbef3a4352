"""Instruction generation: sampling API sets and asking a model for queries about them."""
