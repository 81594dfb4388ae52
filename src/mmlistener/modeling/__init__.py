"""Models. Files here import nothing else from mmlistener: they travel with saved weights as remote code."""
