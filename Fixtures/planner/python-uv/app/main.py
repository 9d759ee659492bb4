print('uv')
