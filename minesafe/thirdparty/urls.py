app_name = "thirdparty"
urlpatterns = []
