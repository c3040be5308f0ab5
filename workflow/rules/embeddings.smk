# The musicnn recipe's stored features (README, "The pretrained recipe"). For every featurisation
# block, `embeddings_<set>_<block>` computes the frozen pretrained network's features of its
# members' 3-s patches into <set>/<block>.npz (genreflow.transfer.update_block): an update()
# output whose job keeps the clips whose spectrogram and weights did not change, so audio added
# to a block costs its own clips. `embeddings_table` writes results/embeddings/tracks.tsv, the
# per-track table users can take away. Nothing here exists unless a recipe is musicnn.
#
# Each block job needs, as inputs:
#   - the block's musicnn-kind spectrograms (spectrogram.kind: musicnn): today through the block's
#     index table (its featurisation job's first output, listing every member's PNG and sha256);
#     the PNGs are read by the job, not declared, as the split rule does;
#   - the pretrained weights: results/pretrained/<architecture>.weights.h5, the conversion rule's
#     output, or the file named by pretrained.weights (genreflow.embeddings.pretrained_of).
# Sets: the run's own (train.recipe: musicnn), and one per other (spectrogram set, weights) that
# an experiment variant with recipe musicnn asks for.
from genreflow.embeddings import embeddings_input, embeddings_root, pretrained_of

# root -> (blocks, architecture, weights file, train section)
EMBEDDING_SETS = {}
if config["train"]["recipe"] == "musicnn":
    EMBEDDING_SETS[embeddings_root(config)] = (
        PLAN.blocks,
        *pretrained_of(config),
        config["train"],
    )
VARIANT_EMBEDDINGS = {}  # variant -> its embeddings files (experiments.smk)
for name, variant in VARIANTS.items():
    if variant["train"]["recipe"] != "musicnn":
        continue
    signature = SpectrogramParams.from_config(variant["spectrogram"]).signature()
    own = signature == SPECTROGRAM.signature()
    blocks = (
        PLAN.blocks if own else SPECTROGRAM_SETS[f"spectrograms_{signature[:8]}"][2]
    )
    root = embeddings_root(variant, "" if own else signature[:8])
    EMBEDDING_SETS.setdefault(root, (blocks, *pretrained_of(variant), variant["train"]))
    VARIANT_EMBEDDINGS[name] = [f"{root}/{b}.npz" for b in blocks]

# every embeddings job: rule name -> (block, output, architecture, weights, train section)
EMBEDDING_JOBS = {
    f"embeddings_{os.path.basename(root).replace('-', '_')}_{block.name}": (
        block,
        f"{root}/{block.name}.npz",
        architecture,
        weights,
        train,
    )
    for root, (blocks, architecture, weights, train) in EMBEDDING_SETS.items()
    for block in blocks.values()
}
# -R / --forcerun on them recompute every clip (see hooks.smk and genreflow.blocks.forced_for)
INCREMENTAL_RULES.update(EMBEDDING_JOBS)
EMBEDDINGS_TABLE = "results/embeddings/tracks.tsv"
EMBEDDINGS_TARGETS = (
    [EMBEDDINGS_TABLE] if config["train"]["recipe"] == "musicnn" else []
)


for rule_name, (block, npz, architecture, weights, train) in EMBEDDING_JOBS.items():

    rule:
        name:
            rule_name
        input:
            index=block.index,
            weights=weights,
        output:
            update(npz),
        log:
            f"results/logs/embeddings/{rule_name}.log",
        conda:
            TRAIN_ENV
        threads: 2
        resources:
            gpu=1,
            mem_mb=4000,
            runtime=60,
        params:
            train=train,
            architecture=architecture,
        script:
            "../scripts/embeddings.py"


if EMBEDDINGS_TARGETS:

    rule embeddings_table:
        input:
            embeddings=embeddings_input(config, PLAN.blocks),
            indexes=PLAN.indexes,
            manifest="results/split/manifest.csv",
        output:
            EMBEDDINGS_TABLE,
        log:
            "results/logs/embeddings/table.log",
        conda:
            "../../envs/featurize.yaml"
        params:
            layer=config["train"]["transfer"]["layer"],
        script:
            "../scripts/embeddings_table.py"
