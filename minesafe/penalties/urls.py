app_name = "penalties"
urlpatterns = []
