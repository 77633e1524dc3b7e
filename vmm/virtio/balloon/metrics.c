// SPDX-License-Identifier: MIT
/* The balloon's counters as JSON, for the control socket's query. */
#include "metrics.h"

json_t *balloon_metrics_json(const struct balloon_metrics *m)
{
	json_t *o = json_object();
	int err = !o;

#define BALLOON_METRIC_JSON(name)					\
	err = err || json_object_set_new(o, #name, json_integer(m->name));
	BALLOON_METRICS(BALLOON_METRIC_JSON)
#undef BALLOON_METRIC_JSON
	if (err) {
		json_decref(o);
		return NULL;
	}
	return o;
}
