"""Factories of the accounts tests."""

from tests.factories import UserFactory


class UserWithPasswordFactory(UserFactory):
    """A user whose password ("a-long-Passphrase-42") is saved, to sign in with.

    `tests.factories.UserFactory` sets the password after saving and does not
    save again, so the stored password is empty.
    """

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save(update_fields=["password"])
