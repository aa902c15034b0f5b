"""Online evaluation of live traffic: checks on every served output, a sampled judge, the worker that scores them."""
