// Kvasir CUDA simulator: see kvsim_device.h.
#pragma once
#include "kvsim_device.h"
