"""Quality and temporal-consistency metrics (E_warp, CDC, colourfulness, PSNR/SSIM), side-by-side comparison videos,
and the `deeperfour eval|compare` commands."""
