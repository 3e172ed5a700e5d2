/* SPDX-License-Identifier: MIT */
/* Placeholder until the implementation lands. */
typedef int placeholder_t;
