"""Indicators, effects against the counterfactual, the settled-start check and each lever's measured effect."""
