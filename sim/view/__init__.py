"""The interactive view (Solara) and what it draws: map, charts, walking agents, lessons."""
