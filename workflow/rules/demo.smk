# Built-in demo data: a small synthetic GTZAN look-alike, written only when audio_dir is the demo folder.
from genreflow.plan import demo_tracks, is_demo

if is_demo(config["audio_dir"]):

    rule demo_audio:
        output:
            [
                t.audio
                for t in demo_tracks(
                    config["genres"], config["demo"]["tracks_per_genre"]
                )
            ],
        log:
            "results/logs/demo_audio.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            genres=config["genres"],
            demo=config["demo"],
            sample_rate=config["spectrogram"]["sample_rate"],
        script:
            "../scripts/demo_audio.py"
