// SPDX-License-Identifier: MIT
/* The balloon's counters as JSON, for the control socket's query. */
#include "balloon_metrics.h"

void balloon_metrics_json(const struct balloon_metrics *m, struct json_buf *jb)
{
	const char *sep = "";

	json_buf_printf(jb, "{");
#define BALLOON_METRIC_JSON(name)					\
	json_buf_printf(jb, "%s\"" #name "\":%llu", sep, (unsigned long long)m->name); \
	sep = ",";
	BALLOON_METRICS(BALLOON_METRIC_JSON)
#undef BALLOON_METRIC_JSON
	json_buf_printf(jb, "}");
}
