"""Model-card and dataset-card templates (markdown), filled by code; installed as `mmlistener.hub_cards`."""
