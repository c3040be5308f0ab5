# Classifying new audio: see the predict section of config/config.yaml.
