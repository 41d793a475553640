"""Sharding: ``axes=`` annotations recorded, logical-axis rules, sharded init, abstract shapes."""
