"""The district: walking networks (grid and OpenStreetMap), where people live, POI and residential tables, coordinates, the Mesa space."""
