"""Signals that accounts sends to the apps built on top of it.

accounts sits at the bottom of the dependency graph: it may not import the
apps whose rows belong to an anonymous identity (work requests first of
all). When an identity is claimed by a new account, those apps move their
rows themselves, by listening here.
"""

from django.dispatch import Signal

# Sent with `identity` (the AnonymousIdentity) and `user` (the new User)
# inside the signup transaction: a receiver that fails undoes the signup, so
# an account never exists with its anonymous requests left behind.
anonymous_identity_claimed = Signal()
