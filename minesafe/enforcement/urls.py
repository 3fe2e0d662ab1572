from . import urls_accidents

app_name = "enforcement"
urlpatterns = [
    *urls_accidents.urlpatterns,
]
