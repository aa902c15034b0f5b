"""An example feature evaluated with listingeval: read a shop receipt into structured fields."""
