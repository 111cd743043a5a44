"""A textbook scalar autograd ``Value``: the common design chainrule is compared against in B2."""
