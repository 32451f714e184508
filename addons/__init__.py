"""Code that runs inside the Rasa server, loaded by class path from
config.yml, endpoints.yml and credentials.yml.

Importing the package applies our fixes to Rasa 3.6 itself (`rasa_fixes`),
so they are in place in every Rasa process that loads one of our addons.
"""

from addons import rasa_fixes

rasa_fixes.apply()
