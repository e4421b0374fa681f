"""The web layer: parse the request, call one service, render or redirect."""
