SECRET_KEY = 'dev'
INSTALLED_APPS = []
ROOT_URLCONF = 'mysite.urls'
WSGI_APPLICATION = 'mysite.wsgi.application'
STATIC_ROOT = 'staticfiles'
