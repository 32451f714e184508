"""A mock of the shop's backend systems (orders, catalogue), seeded from fixtures."""
