"""Data layer: models, engine, migrations and the demo seed."""
