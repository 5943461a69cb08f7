from django.urls import path

from accounts import api

urlpatterns = [
    path("signup/", api.SignupView.as_view(), name="auth-signup"),
    path("token/", api.TokenView.as_view(), name="auth-token"),
    path("anonymous/", api.AnonymousView.as_view(), name="auth-anonymous"),
]
