/* blorc-gpu filters: a PNG of the rows of any W (.npy), laid out and ordered as train does. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "blorc/image.h"
#include "cli.h"

static const char HELP[] =
    "usage: blorc-gpu filters --transform W.npy --output filters.png [--patch-side S]\n"
    "                         [--order-like none|tv|dct|tv2d|identity]\n"
    "Draws the rows of W (k, n) as a PNG, red positive, white zero, blue negative: a k x n heat\n"
    "map, or with --patch-side S (n = S^2) one S x S tile per row. --order-like T reorders the\n"
    "rows to match the rows of transform T one to one, strongest |correlation| first, each\n"
    "flipped to correlate positively (unmatched rows last), as the paper shows its learned\n"
    "DCT-like W. train draws filters.png of its final W this way (dct data: --order-like dct;\n"
    "stripes: --patch-side 8).\n";

int cmd_filters(int argc, char **argv) {
  const char *C = "filters", *wpath = NULL, *out = NULL, *like_s = "none";
  long long side = 0;
  static const struct option opts[] = {{"transform", 1, 0, 'w'},  {"output", 1, 0, 'o'},
                                       {"patch-side", 1, 0, 'p'}, {"order-like", 1, 0, 'l'},
                                       {"help", 0, 0, 'h'},       {0, 0, 0, 0}};
  int o;
  while ((o = cli_getopt(C, argc, argv, opts)) != -1) {
    switch (o) {
      case 'w': wpath = optarg; break;
      case 'o': out = optarg; break;
      case 'p':
        if (cli_int(C, "--patch-side", optarg, 1, &side)) return 2;
        break;
      case 'l': like_s = optarg; break;
      case 'h': fputs(HELP, stdout); return 0;
      default: return 2;
    }
  }
  if (optind < argc) return cli_usage_error(C, "unexpected argument '%s'", argv[optind]);
  if (!wpath || !out) return cli_usage_error(C, "--transform and --output are required");
  blorc_error e = {0};
  blorc_transform_kind like;
  int ordered = strcmp(like_s, "none") != 0;
  if (ordered && blorc_transform_parse(like_s, &like, &e))
    return cli_usage_error(C, "--order-like: %s", e.msg);
  blorc_array W = {0};
  if (cli_load_matrix("--transform", wpath, 0, &W, &e)) return cli_fail(C, &e);
  int k = (int)W.rows, n = (int)W.cols;
  blorc_status st = BLORC_OK;
  if (side > 0 && side * side != n)
    st = blorc_fail(&e, BLORC_EINVAL, "--patch-side %lld: W has n = %d columns, expected n = %lld",
                    side, n, side * side);
  if (!st)
    st = blorc_write_filters_png_like(out, W.data, k, n, (int)side, ordered ? &like : NULL, &e);
  if (!st)
    printf("wrote %s: %d rows of length %d%s%s\n", out, k, n, ordered ? ", ordered like " : "",
           ordered ? like_s : "");
  blorc_array_free(&W);
  return st ? cli_fail(C, &e) : 0;
}
