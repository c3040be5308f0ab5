# The musicnn recipe's stored features (README, "The pretrained recipe"). For every featurisation
# block, `embeddings_<set>_<block>` computes the frozen pretrained network's features of its
# members' 3-s patches into <set>/<block>.npz (genreflow.transfer.update_block): an update()
# output whose job keeps the clips whose spectrogram and weights did not change, so audio added
# to a block costs its own clips. `embeddings_table` writes results/embeddings/tracks.tsv, the
# per-track table users can take away. Nothing here exists unless a recipe is musicnn.
#
# Each block job reads its block's table (the featurisation job's record of every member's
# musicnn-kind PNG and its sha256; the PNGs are read through it) and the pretrained weights
# (results/pretrained/<architecture>.weights.h5, or the file named by pretrained.weights). Sets:
# the run's own (train.recipe: musicnn), and one per other (spectrogram set, weights) that an
# experiment variant with recipe musicnn asks for.
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
    prefix, blocks = spectrogram_set_of(variant["spectrogram"])
    # variants with the same spectrograms and network share one set of embeddings
    root = embeddings_root(variant, prefix.removeprefix("spectrograms").strip("_"))
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
EMBEDDINGS_TABLE = "results/embeddings/tracks.tsv"
EMBEDDINGS_TARGETS = (
    [EMBEDDINGS_TABLE] if config["train"]["recipe"] == "musicnn" else []
)


for rule_name, (block, npz, architecture, weights, train) in EMBEDDING_JOBS.items():

    rule:
        name:
            rule_name
        input:
            table=block.table,
            pngs=block.pngs,  # a missing one is made again first
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
            index=set_index_path(SPECTROGRAM_ROOT),
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
