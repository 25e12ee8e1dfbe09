"""Provider adapters for outbound messages, one per provider, behind `ProviderAdapter`."""
