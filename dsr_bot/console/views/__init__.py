"""Console pages, one module per concept; each exports `routes`."""
