// Run-time loading of the CUDA driver, NVRTC, cuBLASLt, cuDNN and NCCL (see include/ccuda.h).
#include "ccuda.h"

#include <dlfcn.h>
#include <string.h>

void *ccuda_open(const char *path, char *error, size_t errorSize) {
    dlerror();
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle && error && errorSize > 0) {
        const char *message = dlerror();
        strncpy(error, message ? message : "unknown dlopen failure", errorSize - 1);
        error[errorSize - 1] = 0;
    }
    return handle;
}

void ccuda_close(void *handle) {
    if (handle) dlclose(handle);
}

// Looks up the first of up to two names (a versioned one first, e.g. cuMemAlloc_v2).
static void *lookup(void *handle, const char *first, const char *second) {
    void *symbol = dlsym(handle, first);
    if (!symbol && second) symbol = dlsym(handle, second);
    return symbol;
}

#define LOAD2(table, field, name1, name2)                                          \
    do {                                                                           \
        void *symbol = lookup(handle, name1, name2);                               \
        if (!symbol) { if (missing) *missing = name1; return -1; }                 \
        memcpy(&(table)->field, &symbol, sizeof(symbol));                          \
    } while (0)
#define LOAD(table, field) LOAD2(table, field, #field, NULL)
#define LOADV2(table, field) LOAD2(table, field, #field "_v2", #field)

int ccuda_load_driver(void *handle, CCUDADriverAPI *api, const char **missing) {
    memset(api, 0, sizeof(*api));
    LOAD(api, cuInit);
    LOAD(api, cuDriverGetVersion);
    LOAD(api, cuGetErrorString);
    LOAD(api, cuGetErrorName);
    LOAD(api, cuDeviceGetCount);
    LOAD(api, cuDeviceGet);
    LOAD(api, cuDeviceGetAttribute);
    LOAD(api, cuDeviceGetName);
    LOADV2(api, cuDeviceTotalMem);
    LOAD(api, cuDevicePrimaryCtxRetain);
    LOADV2(api, cuDevicePrimaryCtxRelease);
    LOAD(api, cuCtxSetCurrent);
    LOAD(api, cuCtxSynchronize);
    LOADV2(api, cuMemAlloc);
    LOADV2(api, cuMemFree);
    LOADV2(api, cuMemGetInfo);
    LOAD(api, cuMemHostAlloc);
    LOAD(api, cuMemFreeHost);
    LOADV2(api, cuMemcpyHtoDAsync);
    LOADV2(api, cuMemcpyDtoHAsync);
    LOADV2(api, cuMemcpyDtoH);
    LOADV2(api, cuMemcpyDtoDAsync);
    LOADV2(api, cuMemcpy2DAsync);
    LOAD(api, cuMemsetD8Async);
    LOAD(api, cuMemsetD32Async);
    LOAD(api, cuStreamCreate);
    LOADV2(api, cuStreamDestroy);
    LOAD(api, cuStreamSynchronize);
    LOAD(api, cuStreamWaitEvent);
    LOAD(api, cuEventCreate);
    LOADV2(api, cuEventDestroy);
    LOAD(api, cuEventRecord);
    LOAD(api, cuEventSynchronize);
    LOAD(api, cuEventElapsedTime);
    LOAD(api, cuModuleLoadData);
    LOAD(api, cuModuleUnload);
    LOAD(api, cuModuleGetFunction);
    LOAD(api, cuFuncSetAttribute);
    LOAD(api, cuLaunchKernel);
    return 0;
}

int ccuda_load_nvrtc(void *handle, CCUDANVRTCAPI *api, const char **missing) {
    memset(api, 0, sizeof(*api));
    LOAD(api, nvrtcGetErrorString);
    LOAD(api, nvrtcVersion);
    LOAD(api, nvrtcCreateProgram);
    LOAD(api, nvrtcDestroyProgram);
    LOAD(api, nvrtcCompileProgram);
    LOAD(api, nvrtcGetCUBINSize);
    LOAD(api, nvrtcGetCUBIN);
    LOAD(api, nvrtcGetProgramLogSize);
    LOAD(api, nvrtcGetProgramLog);
    return 0;
}

int ccuda_load_cublaslt(void *handle, CCUDACublasLtAPI *api, const char **missing) {
    memset(api, 0, sizeof(*api));
    LOAD(api, cublasLtGetVersion);
    LOAD(api, cublasLtCreate);
    LOAD(api, cublasLtDestroy);
    LOAD(api, cublasLtMatmulDescCreate);
    LOAD(api, cublasLtMatmulDescDestroy);
    LOAD(api, cublasLtMatmulDescSetAttribute);
    LOAD(api, cublasLtMatrixLayoutCreate);
    LOAD(api, cublasLtMatrixLayoutDestroy);
    LOAD(api, cublasLtMatrixLayoutSetAttribute);
    LOAD(api, cublasLtMatmulPreferenceCreate);
    LOAD(api, cublasLtMatmulPreferenceDestroy);
    LOAD(api, cublasLtMatmulPreferenceSetAttribute);
    LOAD(api, cublasLtMatmulAlgoGetHeuristic);
    LOAD(api, cublasLtMatmul);
    return 0;
}

int ccuda_load_cudnn(void *handle, CCUDACudnnAPI *api, const char **missing) {
    memset(api, 0, sizeof(*api));
    LOAD(api, cudnnGetVersion);
    LOAD(api, cudnnGetErrorString);
    LOAD(api, cudnnGetLastErrorString);
    LOAD(api, cudnnCreate);
    LOAD(api, cudnnDestroy);
    LOAD(api, cudnnSetStream);
    LOAD(api, cudnnCreateTensorDescriptor);
    LOAD(api, cudnnSetTensorNdDescriptor);
    LOAD(api, cudnnDestroyTensorDescriptor);
    LOAD(api, cudnnCreateFilterDescriptor);
    LOAD(api, cudnnSetFilterNdDescriptor);
    LOAD(api, cudnnDestroyFilterDescriptor);
    LOAD(api, cudnnCreateConvolutionDescriptor);
    LOAD(api, cudnnSetConvolutionNdDescriptor);
    LOAD(api, cudnnSetConvolutionMathType);
    LOAD(api, cudnnDestroyConvolutionDescriptor);
    LOAD(api, cudnnGetConvolutionNdForwardOutputDim);
    LOAD(api, cudnnGetConvolutionForwardAlgorithm_v7);
    LOAD(api, cudnnGetConvolutionForwardWorkspaceSize);
    LOAD(api, cudnnConvolutionForward);
    LOAD(api, cudnnBackendCreateDescriptor);
    LOAD(api, cudnnBackendDestroyDescriptor);
    LOAD(api, cudnnBackendFinalize);
    LOAD(api, cudnnBackendSetAttribute);
    LOAD(api, cudnnBackendGetAttribute);
    LOAD(api, cudnnBackendExecute);
    return 0;
}

int ccuda_load_nccl(void *handle, CCUDANCCLAPI *api, const char **missing) {
    memset(api, 0, sizeof(*api));
    LOAD(api, ncclGetVersion);
    LOAD(api, ncclGetErrorString);
    LOAD(api, ncclGetLastError);
    LOAD(api, ncclGetUniqueId);
    LOAD(api, ncclCommInitRank);
    LOAD(api, ncclCommDestroy);
    LOAD(api, ncclCommAbort);
    LOAD(api, ncclGroupStart);
    LOAD(api, ncclGroupEnd);
    LOAD(api, ncclSend);
    LOAD(api, ncclRecv);
    return 0;
}
