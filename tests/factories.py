"""Factories shared by the whole suite."""

import factory
from django.utils import timezone

from accounts.models import AnonymousIdentity, User
from instances.models import ModelInstance
from models_registry.models import Model
from workrequests.models import WorkRequest, WorkRequestInputs


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("a-long-Passphrase-42")


class AnonymousIdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnonymousIdentity


class ModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Model
        django_get_or_create = ("id",)

    id = factory.Sequence(lambda n: f"test-model-{n}")
    title = factory.LazyAttribute(lambda model: model.id.replace("-", " ").title())
    image = "modelhub/test"
    tag = "1.0"
    entrypoint = "tests.callables:describe"
    output_columns = ["length", "upper"]


class ModelInstanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelInstance

    model = factory.SubFactory(ModelFactory)
    name = factory.Sequence(lambda n: f"instance-{n}")
    backend = "local"
    image = "modelhub/test:1.0"
    allocation = factory.LazyAttribute(lambda instance: instance.model.k8s_resources)


class ReadyInstanceFactory(ModelInstanceFactory):
    state = ModelInstance.State.READY
    started_at = factory.LazyFunction(timezone.now)
    ready_at = factory.LazyFunction(timezone.now)
    endpoint = "http://127.0.0.1:9"


class WorkRequestFactory(factory.django.DjangoModelFactory):
    """A queued request owned by a new user; pass `inputs=[...]` to choose them."""

    class Meta:
        model = WorkRequest

    user = factory.SubFactory(UserFactory)
    model = factory.SubFactory(ModelFactory)
    model_version = factory.LazyAttribute(lambda request: request.model.cache_version)

    @classmethod
    def _create(cls, model_class, *args, inputs=("CCO", "c1ccccc1"), **kwargs):
        inputs = list(inputs)
        kwargs["input_count"] = len(inputs)
        work_request = super()._create(model_class, *args, **kwargs)
        WorkRequestInputs.objects.create(work_request=work_request, inputs=inputs)
        return work_request
